build-clang/shim/common/report_text.o: common/report_text.c \
  common/report_text.h common/contract.h common/signame.h common/utf8.h

common/report_text.h:

common/contract.h:

common/signame.h:

common/utf8.h:
