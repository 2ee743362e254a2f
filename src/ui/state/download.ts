/** Saving a Blob the workers made as a file the browser downloads. */

/**
 * Hands `blob` to the browser as a download named `filename` (through an object URL on an
 * `<a download>`). The URL is revoked a minute later: revoking it at once can cancel the download.
 */
export function downloadBlob(blob: Blob, filename: string): void {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

/** A file name part made of letters, digits, dots, dashes and underscores only. */
export const fileNamePart = (text: string): string => text.replace(/[^\w.-]+/g, '_').replace(/^[_.]+|_+$/g, '') || 'results';
