"""Shared code of the course "ResNet, from theory to code".

Modules, one concept each (the README's module map says which chapter uses what):

* building blocks: :mod:`.blocks` (d2l's ``Residual``), :mod:`.cifar_resnet` (the
  6n+2 family, ``BasicBlock``), :mod:`.block_variants` (bottleneck,
  pre-activation), :mod:`.mlp`, :mod:`.models` (ResNet-18s, the model registry,
  counting)
* the chapters' ideas: :mod:`.residual_learning`, :mod:`.gradients`,
  :mod:`.paths`, :mod:`.lesion`
* experiments and their stored results: :mod:`.experiments` (functions that return
  data), :mod:`.reproduce` (``python -m resnet_course reproduce``),
  :mod:`.results` (files and provenance), :mod:`.figures` (plots of stored
  results)
* training: :mod:`.training` (the chapters' short loop), :mod:`.trainer` (the loop
  of chapter 6: ``train_step``, ``fit``), :mod:`.train_config`, :mod:`.run_state`,
  :mod:`.history`, :mod:`.schedule`, :mod:`.augment`, :mod:`.checkpoint`
* benchmark: :mod:`.recipes`, :mod:`.d2l_baseline`, :mod:`.bench`,
  :mod:`.bench_report`
* the book: :mod:`.profiles` (smoke / cpu / gpu), :mod:`.data` (Fashion-MNIST,
  verified), :mod:`.notebook` (chapter header, seeding, glue), :mod:`.plotting`,
  :mod:`.diagrams`, :mod:`.widgets` (sliders that work on the static site),
  :mod:`.cli`
"""

__version__ = "0.1.0"
