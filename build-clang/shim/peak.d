build-clang/shim/peak.o: shim/peak.c shim/fdleak.h common/contract.h

shim/fdleak.h:

common/contract.h:
