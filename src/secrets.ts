/**
 * The types of secrets injection (DESIGN.md, "Public API, secrets"). The rules live in
 * libgvproxy (internal/secrets, internal/config): this file only names the shapes.
 */

/**
 * A secret the guest never sees. The guest holds `placeholder` (in its environment, say);
 * in HTTPS requests to one of `hosts` the network replaces it by `value`, and wherever a
 * response carries `value` back, the guest reads `placeholder` instead.
 */
export interface Secret {
  /**
   * What the guest uses in place of the value: visible ASCII without spaces, unique,
   * and neither contained in nor containing another secret's placeholder.
   */
  readonly placeholder: string;
  /** The real value, put into requests to `hosts` only. Must not contain CR, LF or NUL. */
  readonly value: string;
  /**
   * The hosts the value is for: names or `*.` wildcards (`*.example.com` covers names
   * below example.com, not example.com itself). TLS to these names on port 443 is
   * intercepted; the host must also pass `allowNet`.
   */
  readonly hosts: readonly string[];
}

/** A CA certificate and its private key, PEM-encoded. */
export interface TlsInterceptionCa {
  /** The CA certificate (basic constraints CA:TRUE). */
  readonly certPem: string;
  /** Its private key: PKCS#8, SEC 1 EC or PKCS#1 RSA. */
  readonly keyPem: string;
}

/** How intercepted connections are terminated and re-originated. */
export interface TlsInterception {
  /**
   * The CA that signs the certificates the guest sees. Default: one generated in memory
   * for this backend (read it with `caCertificatePem()`), never written anywhere.
   */
  readonly ca?: TlsInterceptionCa;
  /**
   * Extra roots trusted for the real hosts, besides the system's (for example a test CA or
   * a company proxy's). Each entry is PEM text with one or more certificates.
   */
  readonly upstreamCaPem?: readonly string[];
}
