"""Stand-ins for packages user code imports: ``seldon_core`` when nothing installed provides it
(found last: python_runtime/model/seldon_compat.py), and ``flask_psc_model`` for Modzy template
folders (found first, over the folder's own copy: python_runtime/model/formats/modzy.py)."""
