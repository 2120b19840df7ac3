import multiprocessing


def channel():
    return multiprocessing.Pipe()  # LEAK


kept = channel()
