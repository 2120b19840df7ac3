build-clang/shim/fdtable.o: shim/fdtable.c shim/fdtable.h

shim/fdtable.h:
