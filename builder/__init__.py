"""What runs inside the builder images: ``assemble`` (dependencies, conda environment, the
import check), the build settings and the runtime pin files.

``builder`` may import ``python_runtime``; never the other way round; the host command
(``modelkiln_cli``) may import both, neither imports it.
"""
