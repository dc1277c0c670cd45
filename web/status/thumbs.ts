// The newest thumbnails with their QA grade; a thumbnail is a button that opens a dialog with the full PNG
// and the image's metadata (Esc or Close returns to the thumbnail). Images are fetched by thumbnails row id;
// `v` changes when the PNG is re-rendered, so a cached copy is never stale.
import { getJson, withToken } from './api.js';
import type { MetadataView, ThumbnailDetail, ThumbnailView } from './contract.js';
import { byId, degrees, fixed, h, hms, reconcile, setClass, setText } from './dom.js';

const pngUrl = (t: Pick<ThumbnailView, 'id' | 'version'>): string =>
  withToken(`/api/thumbnails/${t.id}/png?v=${t.version}`);

function create(open: (id: number) => void): HTMLLIElement {
  const img = h('img', { attrs: { alt: '', decoding: 'async' } });
  const button = h(
    'button',
    { class: 'thumb', attrs: { type: 'button' } },
    img,
    h('span', { class: 'th-cap' }, h('span', { class: 'th-name' }), h('span', { class: 'qa' })),
  );
  button.addEventListener('click', () => open(Number((button.closest('li') as HTMLLIElement).dataset.id)));
  return h('li', null, button);
}

function update(li: HTMLLIElement, t: ThumbnailView): void {
  li.dataset.id = String(t.id);
  const button = li.firstElementChild as HTMLButtonElement;
  const img = button.querySelector('img')!;
  const src = pngUrl(t);
  if (img.getAttribute('src') !== src) img.setAttribute('src', src);
  img.alt = t.name;
  if (t.width && t.height) {
    img.width = t.width;
    img.height = t.height;
  }
  setText(button.querySelector('.th-name')!, t.name);
  const qa = button.querySelector('.qa')!;
  setClass(qa, `qa q-${t.qaGrade ?? 'unknown'}`);
  setText(qa, t.qaGrade ?? 'no grade');
  button.setAttribute(
    'aria-label',
    `${t.name}, QA ${t.qaGrade ?? 'unknown'}: open the full image and its metadata`,
  );
}

export function renderThumbnails(
  list: HTMLElement,
  thumbs: readonly ThumbnailView[],
  open: (id: number) => void,
): void {
  reconcile(
    list,
    thumbs,
    (t) => String(t.id),
    () => create(open),
    update,
  );
}

function metaRows(m: MetadataView | null, t: ThumbnailView): [string, string][] {
  const rows: [string, string][] = [
    ['file', t.fitsPath],
    [
      'rendered',
      t.renderedAt === null
        ? '—'
        : `${new Date(t.renderedAt).toISOString().slice(0, 10)} ${hms(t.renderedAt)} UTC`,
    ],
    ['QA grade', t.qaGrade ?? 'unknown'],
  ];
  if (!m) return [...rows, ['metadata', 'not stored yet']];
  const beam =
    m.bmajDeg !== null && m.bminDeg !== null
      ? `${(m.bmajDeg * 3600).toFixed(1)}″ × ${(m.bminDeg * 3600).toFixed(1)}″ at ${fixed(m.bpaDeg, 1, '°')}`
      : '—';
  return [
    ...rows,
    ['object', m.object ?? '—'],
    ['date-obs', m.dateObs ?? '—'],
    ['RA, Dec', m.raDeg === null ? '—' : `${m.raDeg.toFixed(4)}°, ${degrees(m.decDeg, 4)}`],
    ['frequency', m.freqHz === null ? '—' : `${(m.freqHz / 1e9).toFixed(4)} GHz`],
    ['bandwidth', m.bandwidthHz === null ? '—' : `${(m.bandwidthHz / 1e6).toFixed(2)} MHz`],
    ['beam', beam],
    ['axes', m.naxis.join(' × ') || '—'],
    ['noise (MAD σ)', m.madStd === null ? '—' : `${m.madStd.toExponential(3)} ${m.bunit ?? ''}`],
    ['peak', m.peakAbs === null ? '—' : `${m.peakAbs.toExponential(3)} ${m.bunit ?? ''}`],
    ['dynamic range', fixed(m.dynamicRange, 0)],
    ['finite pixels', m.nFinite === null ? '—' : String(m.nFinite)],
    ...(m.current ? [] : ([['note', 'the file changed since this was rendered']] as [string, string][])),
  ];
}

/** Open the dialog for one thumbnail; focus returns to `from` when it closes. */
export async function openThumbnail(id: number, from: Element | null): Promise<void> {
  const dialog = byId<HTMLDialogElement>('thumb-dialog');
  const detail = await getJson<ThumbnailDetail>(`/api/status/thumbnails/${id}`);
  const t = detail.thumbnail;
  setText(byId('thumb-title'), t.name);
  const img = byId<HTMLImageElement>('thumb-full');
  img.src = pngUrl(t);
  img.alt = `${t.name} (${t.variant})`;
  if (t.width && t.height) {
    img.width = t.width;
    img.height = t.height;
  }
  const dl = byId('thumb-meta');
  dl.replaceChildren(
    ...metaRows(detail.metadata, t).flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]),
  );
  dialog.addEventListener('close', () => (from as HTMLElement | null)?.focus?.(), { once: true });
  if (!dialog.open) dialog.showModal();
}
