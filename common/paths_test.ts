import assert from "node:assert/strict";
import { dirname, joinPath, normalizePath, resolvePath } from "./paths.ts";

Deno.test("normalizePath removes empty and dot segments", () => {
  assert.equal(normalizePath("/a//b/./c/"), "/a/b/c");
  assert.equal(normalizePath("a/./b"), "a/b");
  assert.equal(normalizePath("./"), ".");
  assert.equal(normalizePath(""), ".");
  assert.equal(normalizePath("/"), "/");
  assert.equal(normalizePath("//"), "/");
});

Deno.test("normalizePath resolves `..` lexically", () => {
  assert.equal(normalizePath("/a/b/../c"), "/a/c");
  assert.equal(normalizePath("a/b/../../c"), "c");
  assert.equal(normalizePath("a/.."), ".");
});

Deno.test("normalizePath stops `..` at the root of an absolute path", () => {
  assert.equal(normalizePath("/.."), "/");
  assert.equal(normalizePath("/../../a"), "/a");
});

Deno.test("normalizePath keeps leading `..` of a relative path", () => {
  assert.equal(normalizePath("../a"), "../a");
  assert.equal(normalizePath("../../a/../b"), "../../b");
  assert.equal(normalizePath("a/../../b"), "../b");
});

Deno.test("joinPath joins with one slash and normalizes", () => {
  assert.equal(joinPath("/root", "001", "access.json"), "/root/001/access.json");
  assert.equal(joinPath("/root/", "/001/"), "/root/001");
  assert.equal(joinPath("a", "", "b"), "a/b");
  assert.equal(joinPath("/root", "../other"), "/other");
  assert.equal(joinPath("", "x"), "x");
});

Deno.test("resolvePath resolves a relative path against the base", () => {
  assert.equal(resolvePath("/home/alice", "hq"), "/home/alice/hq");
  assert.equal(resolvePath("/home/alice", "./hq/../dir"), "/home/alice/dir");
  assert.equal(resolvePath("/home/alice", ".."), "/home");
  assert.equal(resolvePath("/home/alice", "."), "/home/alice");
});

Deno.test("resolvePath keeps an absolute path, normalized", () => {
  assert.equal(resolvePath("/home/alice", "/srv//hq/"), "/srv/hq");
  assert.equal(resolvePath("/home/alice", "/"), "/");
});

Deno.test("dirname returns the parent directory", () => {
  assert.equal(dirname("/a/b/c"), "/a/b");
  assert.equal(dirname("/a/b/c/"), "/a/b");
  assert.equal(dirname("/a"), "/");
  assert.equal(dirname("/"), "/");
  assert.equal(dirname("a/b"), "a");
  assert.equal(dirname("a"), ".");
});
