build-clang/shim/wrap_ipc.o: shim/wrap_ipc.c shim/wrap.h shim/fdleak.h \
  common/contract.h shim/real.h

shim/wrap.h:

shim/fdleak.h:

common/contract.h:

shim/real.h:
