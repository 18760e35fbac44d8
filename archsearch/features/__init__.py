"""Frozen-backbone features: extraction into a content-addressed Zarr v3 cache, and reading them back.

``extraction`` decodes each video and runs a backbone over it once; ``store`` is the cache's API
(one group per dataset and backbone key) over ``videos`` (one atomic directory per video) and
``packs`` (immutable packs for fast split reads, read by ``split_read``); ``integrity`` records and
checks the checksums that prove stored bytes are what was written, ``checks`` judges a group before
it is reused; ``keys`` derives the content address; ``records`` holds errors and reports;
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
    CorruptFeaturesError,
    FeatureStoreError,
    FeatureValidationError,
    GroupConflictError,
    MissingFeaturesError,
    PackInfo,
    Repair,
    VerifyReport,
    VideoMeta,
)
from archsearch.features.store import FeatureGroup, FeatureStore

__all__ = [
    "BackboneRecipe",
    "CorruptFeaturesError",
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
    "Repair",
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
