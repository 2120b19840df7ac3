"""N os.pipe() pairs leaked at one line (N from argv), and one sqlite3 database: two runs with
different N grow one group between their dumps."""
import os
import sqlite3
import sys

kept = [os.pipe() for _ in range(int(sys.argv[1]))]  # LEAK
conn = sqlite3.connect(sys.argv[2])
