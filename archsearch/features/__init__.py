"""Stores: the content-addressed Zarr feature cache and its HDF5 import/export."""

from archsearch.stores.feature_keys import canonical_json, feature_key
from archsearch.stores.feature_records import (
    FeatureStoreError,
    FeatureValidationError,
    GroupConflictError,
    MissingFeaturesError,
    PackInfo,
    VerifyReport,
    VideoMeta,
)
from archsearch.stores.features import FeatureGroup, FeatureStore
from archsearch.stores.hdf5 import H5ImportError, export_h5, import_h5

__all__ = [
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
    "export_h5",
    "feature_key",
    "import_h5",
]
