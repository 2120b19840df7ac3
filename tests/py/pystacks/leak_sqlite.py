import sqlite3
import sys

conn = sqlite3.connect(sys.argv[1])  # LEAK
conn.execute("create table if not exists t (x)")
