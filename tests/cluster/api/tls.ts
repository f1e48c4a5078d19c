/**
 * The cluster's TLS material: a fresh CA and a server certificate it signs for 127.0.0.1 and
 * localhost, made with the `openssl` CLI (EC P-256 keys: about 50 ms in all). Two certificates
 * because rustls (Deno) refuses a self-signed certificate used as both CA and server certificate.
 *
 * @module
 */

/** PEM texts for the CA and the server. */
export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const output = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output()
    .catch((error) => {
      throw new Error(
        `Cannot generate the local cluster's certificates: openssl could not be run (${error}). ` +
          "Install openssl (apt-get install openssl).",
      );
    });
  if (!output.success) {
    throw new Error(
      `Cannot generate the local cluster's certificates: openssl ${args[0]} failed: ` +
        new TextDecoder().decode(output.stderr).trim(),
    );
  }
}

/** Generates the CA and server certificate in `dir` (which must exist) and reads them back. */
export async function generateTls(dir: string): Promise<TlsMaterial> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl(
    ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650"]
      .concat(["-subj", "/CN=kubehook-local-ca"]),
    dir,
  );
  await openssl(
    ["req", "-x509", ...ec, "-keyout", "server.key", "-out", "server.crt", "-days", "3650"]
      .concat(["-subj", "/CN=kubehook-local-apiserver", "-CA", "ca.crt", "-CAkey", "ca.key"])
      .concat(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
      .concat(["-addext", "basicConstraints=critical,CA:FALSE"])
      .concat(["-addext", "extendedKeyUsage=serverAuth"]),
    dir,
  );
  const [caPem, certPem, keyPem] = await Promise.all(
    ["ca.crt", "server.crt", "server.key"].map((f) => Deno.readTextFile(`${dir}/${f}`)),
  );
  return { caPem, certPem, keyPem };
}
