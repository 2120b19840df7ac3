"""A multiprocessing child started by fork (issue 8): it inherits the parent's descriptors
and replaces its stdin with /dev/null (multiprocessing.util._close_stdin); neither is its
leak. The parent closes the Process, so nothing leaks anywhere."""
import multiprocessing as mp


def work():
    pass


if __name__ == "__main__":
    keep = open(__file__)  # held by the parent across the fork, closed before exit
    p = mp.get_context("fork").Process(target=work)
    p.start()
    p.join()
    assert p.exitcode == 0
    p.close()
    keep.close()
    print("done")
