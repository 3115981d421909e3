/* armjit test fixture: not real CinderX code. Static Python class loader. */

int _PyClassLoader_ResolveType(void) {
  return 0;
}
