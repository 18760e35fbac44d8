"""Frozen-backbone features: extraction into a content-addressed Zarr v3 cache, and reading them back.

``extraction`` decodes each video and runs a backbone over it once; ``store`` is the cache (one
group per dataset and backbone key, one atomic directory per video, immutable packs for fast
split reads); ``keys`` derives the content address; ``records`` holds errors and reports;
``validation`` checks arrays before they are written; ``hdf5`` imports and exports features that
came from elsewhere; ``fsio`` has the filesystem primitives (atomic publish, staging sweep).
"""

from archsearch.features.extraction import (
    BackboneRecipe,
    ExtractionError,
    ExtractionReport,
    default_workers,
    extract_dataset,
    load_split_features,
    open_group,
    split_order,
)
from archsearch.features.hdf5 import H5ImportError, export_h5, import_h5
from archsearch.features.keys import canonical_json, feature_key
from archsearch.features.records import (
    FeatureStoreError,
    FeatureValidationError,
    GroupConflictError,
    MissingFeaturesError,
    PackInfo,
    VerifyReport,
    VideoMeta,
)
from archsearch.features.store import FeatureGroup, FeatureStore

__all__ = [
    "BackboneRecipe",
    "ExtractionError",
    "ExtractionReport",
    "FeatureGroup",
    "FeatureStore",
    "FeatureStoreError",
    "FeatureValidationError",
    "GroupConflictError",
    "H5ImportError",
    "MissingFeaturesError",
    "PackInfo",
    "VerifyReport",
    "VideoMeta",
    "canonical_json",
    "default_workers",
    "export_h5",
    "extract_dataset",
    "feature_key",
    "import_h5",
    "load_split_features",
    "open_group",
    "split_order",
]
