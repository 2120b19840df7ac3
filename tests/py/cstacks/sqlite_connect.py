"""sqlite3.connect leaked: the Python line, and the C frames between it and open64 (_sqlite3,
libsqlite3's pager and btree), down from CPython's eval loop."""
import sqlite3
import sys

conn = sqlite3.connect(sys.argv[1])  # LEAK
