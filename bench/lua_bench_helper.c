/* Lua module `sipmetrics_bench`: the floors that bench/lua_bench.lua compares sipmetrics' Lua
 * functions with, registered through luaL_Reg exactly as sipmetrics.so registers its own.
 *   empty(...)        returns at once: the cost of any Lua-to-C call
 *   touserdata(u)     lua_touserdata only: a handle read with no type check (not safe)
 *   checkudata(u)     luaL_checkudata on a named metatable: the registry look-up by name
 *   envcheck(u)       the metatable compared with one fetched from the environment table
 *   upvaluecheck(u)   the metatable compared with the function's upvalue (what sipmetrics.so does)
 *   number(i)         a number used as an index into a C array, bounds-checked
 *   new()             a userdata with this module's metatable, for the three checks above */
#include <lauxlib.h>
#include <lua.h>

static double sink[16];

static int l_empty(lua_State* L) {
  (void)L;
  return 0;
}
static int l_touserdata(lua_State* L) {
  double* p = (double*)lua_touserdata(L, 1);
  if (p != NULL) sink[0] = *p;
  return 0;
}
static int l_checkudata(lua_State* L) {
  sink[1] = *(double*)luaL_checkudata(L, 1, "sipmetrics_bench.handle");
  return 0;
}
static int l_envcheck(lua_State* L) {
  void* p = lua_touserdata(L, 1);
  if (p != NULL && lua_getmetatable(L, 1)) {
    int same;
    lua_rawgeti(L, LUA_ENVIRONINDEX, 1);
    same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (same) {
      sink[2] = *(double*)p;
      return 0;
    }
  }
  return luaL_typerror(L, 1, "sipmetrics_bench handle");
}
static int l_upvaluecheck(lua_State* L) {
  void* p = lua_touserdata(L, 1);
  if (p != NULL && lua_getmetatable(L, 1)) {
    const int same = lua_rawequal(L, -1, lua_upvalueindex(1));
    lua_pop(L, 1);
    if (same) {
      sink[3] = *(double*)p;
      return 0;
    }
  }
  return luaL_typerror(L, 1, "sipmetrics_bench handle");
}
static int l_number(lua_State* L) {
  lua_Integer i = luaL_checkinteger(L, 1);
  if (i < 0 || i >= 16) return luaL_argerror(L, 1, "no such handle");
  sink[4] += sink[i];
  return 0;
}
static int l_new(lua_State* L) {
  double* p = (double*)lua_newuserdata(L, sizeof(double));
  *p = 1.0;
  luaL_getmetatable(L, "sipmetrics_bench.handle");
  lua_setmetatable(L, -2);
  return 1;
}

static const luaL_Reg kFunctions[] = {{"empty", l_empty},
                                      {"touserdata", l_touserdata},
                                      {"checkudata", l_checkudata},
                                      {"envcheck", l_envcheck},
                                      {"number", l_number},
                                      {"new", l_new},
                                      {NULL, NULL}};

__attribute__((visibility("default"))) int luaopen_sipmetrics_bench(lua_State* L);
int luaopen_sipmetrics_bench(lua_State* L) {
  luaL_newmetatable(L, "sipmetrics_bench.handle");
  lua_createtable(L, 1, 0);
  lua_pushvalue(L, -2);
  lua_rawseti(L, -2, 1);
  lua_replace(L, LUA_ENVIRONINDEX);
  lua_pop(L, 1);
  luaL_register(L, "sipmetrics_bench", kFunctions);
  luaL_getmetatable(L, "sipmetrics_bench.handle");
  lua_pushcclosure(L, l_upvaluecheck, 1);
  lua_setfield(L, -2, "upvaluecheck");
  return 1;
}
