build-clang/shim/init.o: shim/init.c shim/fdleak.h common/contract.h \
  shim/fdtable.h shim/wrap.h shim/real.h

shim/fdleak.h:

common/contract.h:

shim/fdtable.h:

shim/wrap.h:

shim/real.h:
