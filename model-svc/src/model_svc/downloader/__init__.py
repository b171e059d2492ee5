"""The Hub download engine: probe a file, fetch it resumably, verify it, place it in the cache."""

from model_svc.downloader.fetch import fetch, free_bytes
from model_svc.downloader.journal import discard
from model_svc.downloader.placement import cached_file, partial_path, place, repo_folder
from model_svc.downloader.remote import RemoteFile, probe
from model_svc.downloader.transfer import RetryPolicy
from model_svc.downloader.validation import check_filename, check_repo, check_revision

__all__ = [
    "RemoteFile",
    "RetryPolicy",
    "cached_file",
    "check_filename",
    "check_repo",
    "check_revision",
    "discard",
    "fetch",
    "free_bytes",
    "partial_path",
    "place",
    "probe",
    "repo_folder",
]
