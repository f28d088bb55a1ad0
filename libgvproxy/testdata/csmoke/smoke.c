/* A cgo-free C client of libgvproxy: loads the library with dlopen, as Bun does, and
 * drives the lifecycle exports. It prints each envelope on its own line; the Go test
 * TestCSharedLibraryFromC checks them. Usage: smoke <libgvproxy.so> <socket path>. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>

typedef int32_t (*abi_fn)(void);
typedef char *(*version_fn)(void);
typedef char *(*create_fn)(const char *);
typedef char *(*id_fn)(int64_t);
typedef void (*free_fn)(char *);

static free_fn gv_free;

static void print_and_free(char *s) {
	printf("%s\n", s ? s : "(null)");
	gv_free(s);
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: %s <libgvproxy.so> <socket path>\n", argv[0]);
		return 2;
	}
	void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	abi_fn abi = (abi_fn)dlsym(lib, "gvproxy_abi_version");
	version_fn version = (version_fn)dlsym(lib, "gvproxy_version");
	create_fn create = (create_fn)dlsym(lib, "gvproxy_create");
	id_fn stats = (id_fn)dlsym(lib, "gvproxy_stats");
	id_fn destroy = (id_fn)dlsym(lib, "gvproxy_destroy");
	gv_free = (free_fn)dlsym(lib, "gvproxy_free");
	if (!abi || !version || !create || !stats || !destroy || !gv_free) {
		fprintf(stderr, "missing export\n");
		return 1;
	}
	char config[512];
	snprintf(config, sizeof config, "{\"socketPath\":\"%s\"}", argv[2]);

	printf("abi %d\n", abi());
	print_and_free(version());
	print_and_free(create(config));
	print_and_free(create(config)); /* the socket is in use now */
	print_and_free(stats(1));
	print_and_free(destroy(1));
	print_and_free(destroy(1));
	print_and_free(create(NULL));
	gv_free(NULL);
	return 0;
}
