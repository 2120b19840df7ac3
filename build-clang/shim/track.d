build-clang/shim/track.o: shim/track.c shim/fdleak.h common/contract.h \
  shim/fdtable.h shim/intern.h

shim/fdleak.h:

common/contract.h:

shim/fdtable.h:

shim/intern.h:
