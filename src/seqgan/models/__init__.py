"""The networks: ``Generator`` (LSTM policy), ``Discriminator`` (CNN + highway),
``LatentGenerator`` and ``Encoder`` (the recurrent VAE)."""

from seqgan._lazy import lazy_dir, lazy_exports

_NAMES = {
    "Generator": ".generator",
    "Discriminator": ".discriminator",
    "LatentGenerator": ".vae",
    "Encoder": ".vae",
}
__all__ = list(_NAMES)
__getattr__ = lazy_exports(__name__, _NAMES)
__dir__ = lazy_dir(globals(), _NAMES)
