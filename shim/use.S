/* Fast paths of the descriptor-using wrappers (wrap_io.c, issue 9: use after close). A
 * read/write loop is the hottest path a program has, so each entry point is six
 * instructions: push the descriptor (which also aligns the stack), call the real function
 * through its slot with every argument where the caller put it, one compare of the result,
 * pop, return. A negative result goes to the call's C helper, fdl_use_failed_<name>(r, fd,
 * caller), which looks for misuse only when errno is EBADF. The slot starts as a resolver
 * (fdl_real_lookup, every argument register saved), so there is no null test. CFI is exact
 * so that the failure path's stack capture unwinds through the stub to the program's frame.
 * callgrind, 1-byte read of /dev/zero or write to /dev/null: 19 instructions per call bare,
 * 25 with the library. */

/* USE name, fdreg, width: fdreg holds the descriptor (rdi, or rsi for __fxstat's);
 * width q for ssize_t/off_t results, l for int. */
.macro USE name, fdreg, width
	.section .rodata.str1.1,"aMS",@progbits,1
.Lname_\name:
	.string	"\name"
	.data
	.balign	8
	.globl	fdl_use_real_\name
	.hidden	fdl_use_real_\name
	.type	fdl_use_real_\name, @object
	.size	fdl_use_real_\name, 8
fdl_use_real_\name:			/* the real function; until resolved, the resolver */
	.quad	.Lresolve_\name
	.text
	.globl	\name
	.type	\name, @function
	.p2align 4
\name:
	.cfi_startproc
	pushq	%\fdreg			/* kept for the failure path; aligns the stack */
	.cfi_adjust_cfa_offset 8
	call	*fdl_use_real_\name(%rip)
	.ifc \width,q
	testq	%rax, %rax
	.else
	testl	%eax, %eax
	.endif
	js	1f
	popq	%rdi
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_adjust_cfa_offset 8
1:	.ifc \width,q
	movq	%rax, %rdi
	.else
	movslq	%eax, %rdi
	.endif
	movl	(%rsp), %esi		/* the descriptor */
	movq	8(%rsp), %rdx		/* the program's return address */
	call	fdl_use_failed_\name	/* errno untouched; returns r */
	popq	%rdi
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_endproc
	.size	\name, .-\name

/* First call: entered from the stub's call with every argument in place; resolves, stores,
 * and jumps to the real function, which returns into the stub. */
	.type	.Lresolve_\name, @function
.Lresolve_\name:
	.cfi_startproc
	pushq	%rdi
	.cfi_adjust_cfa_offset 8
	pushq	%rsi
	.cfi_adjust_cfa_offset 8
	pushq	%rdx
	.cfi_adjust_cfa_offset 8
	pushq	%rcx
	.cfi_adjust_cfa_offset 8
	pushq	%r8
	.cfi_adjust_cfa_offset 8
	pushq	%r9
	.cfi_adjust_cfa_offset 8
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	leaq	.Lname_\name(%rip), %rdi
	leaq	fdl_use_real_\name(%rip), %rsi
	call	fdl_real_lookup
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r9
	.cfi_adjust_cfa_offset -8
	popq	%r8
	.cfi_adjust_cfa_offset -8
	popq	%rcx
	.cfi_adjust_cfa_offset -8
	popq	%rdx
	.cfi_adjust_cfa_offset -8
	popq	%rsi
	.cfi_adjust_cfa_offset -8
	popq	%rdi
	.cfi_adjust_cfa_offset -8
	jmp	*%rax
	.cfi_endproc
	.size	.Lresolve_\name, .-.Lresolve_\name
.endm

	USE read, rdi, q
	USE write, rdi, q
	USE pread, rdi, q
	USE pread64, rdi, q
	USE pwrite, rdi, q
	USE pwrite64, rdi, q
	USE readv, rdi, q
	USE writev, rdi, q
	USE send, rdi, q
	USE recv, rdi, q
	USE sendto, rdi, q
	USE recvfrom, rdi, q
	USE sendmsg, rdi, q
	USE lseek, rdi, q
	USE lseek64, rdi, q
	USE fstat, rdi, l
	USE fstat64, rdi, l
	USE __fxstat, rsi, l
	USE __fxstat64, rsi, l

	.section .note.GNU-stack,"",@progbits
