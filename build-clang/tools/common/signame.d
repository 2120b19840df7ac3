build-clang/tools/common/signame.o: common/signame.c common/signame.h \
  common/contract.h

common/signame.h:

common/contract.h:
