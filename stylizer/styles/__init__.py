"""Where a style comes from: weight files checked as they load (``weights``), a generator built
from them (``loading``), presets and their manifests (``presets``), installing and removing them
(``installing``), the reference's published models (``catalogue``) and fetching them
(``download``)."""
