"""Files named .csv that are something else are refused, named, with what to upload instead;
nothing is stored."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.imports import services
from dashboard.imports.models import ImportStatus
from integrations.importing.reading import ImportFileError

pytestmark = pytest.mark.django_db

CSV = b"email,firstName,lastName\r\nann@example.com,Ann,Lee\r\nbob@example.com,Bob,Ray\r\n"


def zipped() -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("people.csv", CSV)
    return data.getvalue()


def gzipped() -> bytes:
    data = io.BytesIO()
    with gzip.GzipFile(filename="people.csv", mode="wb", fileobj=data) as compressed:
        compressed.write(CSV)
    return data.getvalue()


RECORDS = [{"email": "ann@example.com", "firstName": "Ann"}] * 3
# A JSON array longer than the sample read to tell what a file is (64 KB).
LONG_JSON = json.dumps(
    [{"email": f"p{i}@example.com", "notes": "x" * 100} for i in range(1000)], indent=2
).encode()
MYSQLDUMP = b"""-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)
--
-- Host: localhost    Database: hr
-- ------------------------------------------------------
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
DROP TABLE IF EXISTS `employees`;
CREATE TABLE `employees` (
  `email` varchar(255) NOT NULL,
  `first_name` varchar(100) DEFAULT NULL
) ENGINE=InnoDB;
INSERT INTO `employees` VALUES ('ann@example.com','Ann'),('bob@example.com','Bob');
"""
PG_DUMP = b"""--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET client_encoding = 'UTF8';

COPY public.employees (email, first_name) FROM stdin;
ann@example.com\tAnn
\\.
"""
PLAIN_SQL = (
    b"CREATE TABLE employees (email text, first_name text);\n"
    b"INSERT INTO employees VALUES ('ann@example.com', 'Ann');\n"
)
FIXED_WIDTH = (
    b"EMPNO  EMAIL                 FIRST     LAST      \r\n"
    b"000101 ann@example.com       Ann       Lee       \r\n"
    b"000102 bob@example.com       Bob       Ray       \r\n"
    b"000103 kim.long@example.com  Kim       Long      \r\n"
)


@pytest.mark.parametrize(
    ("data", "named", "instead"),
    [
        (gzipped(), "gzip-compressed file (.gz)", "decompress it and upload the CSV"),
        (bz2.compress(CSV), "bzip2-compressed file (.bz2)", "decompress it"),
        (zipped(), "zip archive", "it holds “people.csv”"),
        (json.dumps(RECORDS).encode(), "JSON file", "export the data as CSV"),
        (LONG_JSON, "JSON file", "export the data as CSV"),
        (b"\n".join(json.dumps(r).encode() for r in RECORDS), "JSON Lines file", "as CSV"),
        (MYSQLDUMP, "SQL dump (mysqldump)", "export the table as CSV"),
        (PG_DUMP, "SQL dump (pg_dump)", "CSV HEADER"),
        (PLAIN_SQL, "an SQL dump", "export the table as CSV"),
        (FIXED_WIDTH, "fixed-width text file", "save it as CSV UTF-8"),
        (b"<!DOCTYPE html><html><table><tr><td>email</td></tr></table></html>", "web page",
         "save it as CSV"),
    ],
    ids=["gz", "bz2", "zip", "json", "long json", "json lines", "mysqldump", "pg_dump", "sql",
         "fixed-width", "html"],
)  # fmt: skip
def test_a_file_that_is_not_csv_is_named_and_not_stored(
    redflag, admin_user, settings, data, named, instead
):
    upload = SimpleUploadedFile("people.csv", data, content_type="text/csv")
    with pytest.raises(ImportFileError) as refused:
        services.import_create(connection=redflag, upload=upload, user=admin_user)
    message = str(refused.value)
    assert named in message and instead in message
    assert "not a CSV file" in message
    assert not redflag.imports.exists()
    assert not [p for p in settings.MEDIA_ROOT.glob("**/*") if p.is_file()]


@pytest.mark.parametrize(
    "data",
    [
        b"email\r\nann@example.com\r\nbob@example.com\r\n",  # one column
        b"{email},firstName\r\n{ann@example.com},Ann\r\n",  # a first cell starting with "{"
        b'"{""a"": 1}",email\r\nx,ann@example.com\r\n',  # a quoted JSON first cell
        b"[email],[first name]\r\nann@example.com,Ann\r\n",  # SQL Server's bracketed names
        b"email , firstName , lastName \r\nann@example.com , Ann , Lee \r\n"
        b"bob@example.com , Bob , Ray \r\nkim@example.com , Kim , Poe \r\n",  # aligned, commas
        b"email\tfirst name\tlast name\r\nann@example.com\tAnn Mary\tLee\r\n"
        b"bob@example.com\tBob Jay\tRay\r\nkim@example.com\tKim Sue\tPoe\r\n",  # tabs, spaces
        b"Insert into,email\r\nyes,ann@example.com\r\n",  # SQL words in a header
    ],
    ids=["one column", "brace", "quoted json cell", "brackets", "aligned commas", "tabs",
         "sql words"],
)  # fmt: skip
def test_csv_files_that_resemble_other_kinds_are_read_as_csv(redflag, admin_user, data):
    upload = SimpleUploadedFile("people.csv", data, content_type="text/csv")
    run = services.import_create(connection=redflag, upload=upload, user=admin_user)
    assert run.status in {ImportStatus.PREVIEWED, ImportStatus.UPLOADED}, run.error
