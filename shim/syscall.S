/* syscall(): libunwind writes to its validation pipe with syscall(SYS_write, ...), so this
 * must be ours (see unwind_io.c). Programs call syscall() in hot paths (futex loops), so the
 * common case is a compare and a tail jump with every argument left where the caller put it;
 * only the first four numbers (read, write, open, close) go to C, fdl_syscall_slow, which
 * has the same seven-argument layout. */
	.text
	.globl	syscall
	.type	syscall, @function
syscall:
	.cfi_startproc
	cmpq	$3, %rdi		/* SYS_close: read, write, open and close are below */
	jbe	1f
	movq	fdl_real_syscall(%rip), %rax
	testq	%rax, %rax
	jz	1f			/* not resolved yet */
	jmp	*%rax
1:	jmp	fdl_syscall_slow
	.cfi_endproc
	.size	syscall, .-syscall
	.section .note.GNU-stack,"",@progbits
