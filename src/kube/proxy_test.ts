import assert from "node:assert/strict";
import { proxyFor } from "./proxy.ts";

const server = new URL("https://10.96.0.1:443");

Deno.test("HTTPS_PROXY (either case) is used for an https API server, HTTP_PROXY is not", () => {
  assert.equal(proxyFor(server, {})?.href, undefined);
  assert.equal(proxyFor(server, { HTTPS_PROXY: "http://proxy:3128" })?.host, "proxy:3128");
  assert.equal(proxyFor(server, { https_proxy: "proxy:3128" })?.href, "http://proxy:3128/");
  assert.equal(proxyFor(server, { HTTP_PROXY: "http://proxy:3128" }), undefined);
  const plain = new URL("http://127.0.0.1:8080");
  assert.equal(proxyFor(plain, { HTTP_PROXY: "http://p:1" })?.host, "p:1");
});

Deno.test("NO_PROXY: *, names, .suffixes, IPs, IPv4 ranges and ports exempt the server", () => {
  const via = (target: string, noProxy: string) =>
    proxyFor(new URL(target), { HTTPS_PROXY: "http://proxy:3128", NO_PROXY: noProxy }) !==
      undefined;
  assert.equal(via("https://10.96.0.1:443", "*"), false);
  assert.equal(via("https://10.96.0.1:443", "localhost, 10.96.0.1"), false);
  assert.equal(via("https://10.96.0.1:443", "10.0.0.0/8"), false);
  assert.equal(via("https://10.96.0.1:443", "10.96.0.0/12,.svc"), false);
  assert.equal(via("https://10.112.0.1:443", "10.96.0.0/12"), true);
  assert.equal(via("https://api.k8s.example.com:6443", ".example.com"), false);
  assert.equal(via("https://api.k8s.example.com:6443", "*.example.com"), false);
  assert.equal(via("https://api.k8s.example.com:6443", "example.com"), false);
  assert.equal(via("https://notexample.com:6443", "example.com"), true);
  assert.equal(via("https://kubernetes.default.svc:443", "kubernetes.default.svc:443"), false);
  assert.equal(via("https://kubernetes.default.svc:443", "kubernetes.default.svc:6443"), true);
  assert.equal(via("https://[fd00::1]:443", "fd00::1"), false);
  assert.equal(
    proxyFor(server, { HTTPS_PROXY: "http://proxy:3128", no_proxy: "10.96.0.1" }),
    undefined,
  );
});

Deno.test("a proxy kubehook cannot use is an error naming the variable and the fix", () => {
  assert.throws(() => proxyFor(server, { HTTPS_PROXY: "https://proxy:3128" }), {
    message: /HTTPS_PROXY="https:\/\/proxy:3128".*plain http:\/\/ proxies.*NO_PROXY/,
  });
  assert.throws(() => proxyFor(server, { HTTPS_PROXY: "http://[oops" }), {
    message: /HTTPS_PROXY="http:\/\/\[oops" is not a URL/,
  });
});

Deno.test("a proxy's password never appears in an error", () => {
  const target = new URL("https://10.96.0.1:443");
  for (
    const value of [
      "socks5://robot:s3cret@proxy.corp:1080",
      "http://robot:s3cret@proxy corp:3128",
      "robot:s3cret@proxy corp:3128",
    ]
  ) {
    assert.throws(() => proxyFor(target, { HTTPS_PROXY: value }), (error: Error) => {
      assert.doesNotMatch(error.message, /s3cret/, error.message);
      assert.match(error.message, /HTTPS_PROXY="[^"]*\*\*\*@proxy/);
      return true;
    });
  }
});
