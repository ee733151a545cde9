from seqgan.cli import main

raise SystemExit(main())
