/** A file's name for messages: a File's name, or a neutral phrase for a bare Blob. */
export const blobName = (blob: Blob): string => {
  const name = (blob as Partial<File>).name;
  return typeof name === 'string' && name ? `"${name}"` : 'the file';
};
