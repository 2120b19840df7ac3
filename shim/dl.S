/* dlsym and dlvsym entry points (see wrap_dl.c). RTLD_DEFAULT (0) and RTLD_NEXT (-1) are
 * resolved by glibc relative to its caller's return address: they jump to the real function
 * with the program's return address on top of the stack, untouched. An explicit handle goes
 * to fdl_dl_handle. */
	.text
	.globl	dlsym
	.type	dlsym, @function
dlsym:
	leaq	1(%rdi), %rax
	cmpq	$1, %rax
	ja	2f			/* handle not 0 and not -1 */
	movq	fdl_real_dlsym(%rip), %rax
	testq	%rax, %rax
	jz	1f
	jmp	*%rax
1:	pushq	%rdi
	pushq	%rsi
	subq	$8, %rsp		/* 16-byte alignment for the call */
	call	fdl_dl_resolve
	addq	$8, %rsp
	popq	%rsi
	popq	%rdi
	jmp	*%rax
2:	xorl	%edx, %edx		/* no version */
	jmp	fdl_dl_handle
	.size	dlsym, .-dlsym

	.globl	dlvsym
	.type	dlvsym, @function
dlvsym:
	leaq	1(%rdi), %rax
	cmpq	$1, %rax
	ja	2f
	movq	fdl_real_dlvsym(%rip), %rax
	testq	%rax, %rax
	jz	1f
	jmp	*%rax
1:	pushq	%rdi
	pushq	%rsi
	pushq	%rdx
	call	fdl_dl_resolve
	popq	%rdx
	popq	%rsi
	popq	%rdi
	movq	fdl_real_dlvsym(%rip), %rax
	jmp	*%rax
2:	jmp	fdl_dl_handle
	.size	dlvsym, .-dlvsym
	.section .note.GNU-stack,"",@progbits
