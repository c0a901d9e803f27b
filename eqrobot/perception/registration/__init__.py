"""Point-cloud registration: two clouds -> the rigid transform that maps the source into
the target frame, with a calibrated confidence.

Rooms (the same in every capability): ``model.py`` (the rotation-invariant descriptor
network), ``registrar.py`` (the inference object), ``train.py``, ``data.py``,
``evaluate.py``; plus the pipeline stages ``preprocess.py``, ``matching.py``,
``estimator.py``, ``refine.py`` and the Open3D ``baselines.py``.
"""
