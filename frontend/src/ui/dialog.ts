/** Open / close a <dialog> modally, with an attribute fallback where showModal is missing (older engines, jsdom). */
export function openDialog(d: HTMLDialogElement | null) {
  if (!d || d.open) return;
  if (typeof d.showModal === 'function') d.showModal();
  else d.setAttribute('open', '');
}

export function closeDialog(d: HTMLDialogElement | null) {
  if (!d || !d.open) return;
  if (typeof d.close === 'function') d.close();
  else d.removeAttribute('open');
}
