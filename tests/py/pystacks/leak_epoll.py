import select


class Poller:
    def __init__(self):
        self.ep = select.epoll()  # LEAK


kept = Poller()
