/* The main() of the fuzz targets' replay programs (the tests/fuzz .am
 * fragments): built with gcc for `make check`, it feeds each file named on the
 * command line to the target's LLVMFuzzerTestOneInput once, so the checked-in
 * corpora and every crash input found are replayed without clang.  An input is
 * read up to 1 MiB (libFuzzer's inputs are no larger by default). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	static unsigned char b[1 << 20];
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			perror(argv[i]);
			return 1;
		}
		size_t n = fread(b, 1, sizeof(b), f);
		fclose(f);
		LLVMFuzzerTestOneInput(b, n);
	}
	printf("%d inputs replayed\n", argc - 1);
	return 0;
}
