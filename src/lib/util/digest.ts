/** SHA-256 as lowercase hex, over bytes given in parts (Web Crypto: browsers, workers and Node). */
export async function sha256Hex(parts: readonly BlobPart[]): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', await new Blob(parts as BlobPart[]).arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
