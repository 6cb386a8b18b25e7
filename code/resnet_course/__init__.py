"""Shared code of the course "ResNet, from theory to code".

Modules, one concept each:

* :mod:`.profiles` -- the one switch (``smoke`` / ``cpu`` / ``gpu``) that sizes
  experiments
* :mod:`.data`     -- Fashion-MNIST, found or fetched, verified by checksum
* :mod:`.blocks`   -- the ``Residual`` block and ``resnet_block`` stage
* :mod:`.models`   -- whole networks (d2l's ResNet-18) and counting helpers
* :mod:`.notebook` -- the header every chapter prints, and seeding
"""

__version__ = "0.1.0"
