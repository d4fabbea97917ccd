# wl_i386 - a static 32-bit (i386) program without libc, for the test
# that a 32-bit process is refused.  Not built by make: the test
# assembles it with `as --32` and links it with `ld -m elf_i386`.
# Prints "ready" and then waits in pause() forever.
	.text
	.globl _start
_start:
	movl $4, %eax		# write(1, msg, len)
	movl $1, %ebx
	movl $msg, %ecx
	movl $len, %edx
	int $0x80
1:	movl $29, %eax		# pause()
	int $0x80
	jmp 1b

	.data
msg:	.ascii "ready\n"
	len = . - msg
