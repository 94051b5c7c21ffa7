"""S3 object storage through boto3: uploads, downloads and presigned URLs under per-account keys."""
from __future__ import annotations

from typing import IO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from service_config import Settings
from service_layer.ports import Unavailable


class BlobStore:
    def __init__(self, settings: Settings):
        self._bucket = settings.s3_bucket
        self._ttl_s = settings.s3_presign_ttl_s
        self._client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            region_name=settings.s3_region,
            config=Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            ),
        )

    def ensure_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except ClientError:
            self._client.create_bucket(Bucket=self._bucket)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._client.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        return self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()

    def put_file(self, key: str, fileobj, content_type: str) -> None:
        """Stream a (seekable) file object to ``key``; large files go up in parts, never whole in memory."""
        self._client.upload_fileobj(fileobj, self._bucket, key, ExtraArgs={"ContentType": content_type})

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self._bucket, Key=key)

    def presigned_url(self, key: str, ttl_s: int | None = None) -> str:
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=ttl_s or self._ttl_s
        )


def speech_key(account_id: str, speech_id: str, fmt: str) -> str:
    return f"speeches/{account_id}/{speech_id}.{fmt}"


class GuardedBlobs:
    """The service layer's ``Blobs`` port: a :class:`BlobStore` whose S3 failures raise ``Unavailable``."""

    def __init__(self, store: BlobStore):
        self._store = store

    def put_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        try:
            self._store.put_file(key, fileobj, content_type)
        except (BotoCoreError, ClientError) as exc:
            raise Unavailable(f"S3 refused {key}: {exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self._store.delete(key)
        except (BotoCoreError, ClientError) as exc:
            raise Unavailable(f"S3 could not delete {key}: {exc}") from exc

    def presigned_url(self, key: str) -> str:
        return self._store.presigned_url(key)  # signed locally: no request to S3

