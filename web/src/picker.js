// The series picker: every series /api/series knows, filtered by a search
// box, grouped by metric name, with the selection kept in localStorage.
// Dispatches 'change' when the selection changes.
import {h, replaceChildren} from './dom.js';
import {groupByName, legendText} from './series.js';

const STORAGE_KEY = 'vitals.series';
const MAX_ROWS = 400;  // rows rendered at once; the filter narrows the rest

export class SeriesPicker extends EventTarget {
  constructor(api, {maxSelected = 24} = {}) {
    super();
    this.api = api;
    this.maxSelected = maxSelected;
    this.all = [];
    this.loaded = false;
    this.selection = new Set(load());
    this.filter = h('input', {
      type: 'search',
      class: 'picker-filter',
      placeholder: 'Filter series',
      'aria-label': 'Filter series',
      oninput: () => this.render(),
    });
    this.list = h('div', {class: 'picker-list'});
    this.note = h('p', {class: 'picker-note'});
    this.element = h(
      'aside',
      {class: 'picker', 'aria-label': 'Series'},
      h('div', {class: 'picker-head'}, h('h2', {}, 'Series'),
        h('button', {type: 'button', class: 'link', onclick: () => this.clear()}, 'Clear')),
      this.filter,
      this.list,
      this.note,
    );
  }

  selected() {
    return [...this.selection];
  }

  async refresh(signal = undefined) {
    const series = await this.api.series('', signal);
    this.all = series.map((s) => s.series);
    // Until someone picks (or clears) series here, show a default set, also
    // when the first series appear only after the page loaded.
    if (this.selection.size === 0 && localStorage.getItem(STORAGE_KEY) === null) this.selectDefault();
    this.loaded = true;
    this.render();
  }

  // With nothing chosen yet: the first metric (agent metrics last), up to six series of it.
  selectDefault() {
    const groups = [...groupByName(this.all).entries()];
    const first = groups.find(([name]) => !name.startsWith('vitals_')) ?? groups[0];
    if (!first) return;
    for (const text of first[1].slice(0, 6)) this.selection.add(text);
    this.dispatchEvent(new CustomEvent('change'));
  }

  // The list is not redrawn: the checkbox keeps its focus.
  toggle(text, box) {
    if (box.checked && this.selection.size >= this.maxSelected) {
      box.checked = false;
      this.note.textContent = `At most ${this.maxSelected} series at once.`;
      return;
    }
    if (box.checked) this.selection.add(text);
    else this.selection.delete(text);
    this.changed();
    this.renderNote();
  }

  clear() {
    this.selection.clear();
    this.changed();
    this.render();
  }

  changed() {
    localStorage.setItem(STORAGE_KEY, JSON.stringify([...this.selection]));
    this.dispatchEvent(new CustomEvent('change'));
  }

  render() {
    const needle = this.filter.value.trim().toLowerCase();
    const matching = needle ? this.all.filter((t) => t.toLowerCase().includes(needle)) : this.all;
    const shown = matching.slice(0, MAX_ROWS);
    const groups = [];
    for (const [name, texts] of groupByName(shown)) {
      groups.push(
        h('div', {class: 'picker-group'}, h('h3', {}, name),
          texts.map((text) => {
            const box = h('input', {type: 'checkbox', onchange: (e) => this.toggle(text, e.target)});
            box.checked = this.selection.has(text);
            return h('label', {class: 'picker-row', title: text}, box, h('span', {}, legendText(text)));
          })),
      );
    }
    if (groups.length === 0)
      groups.push(h('p', {class: 'muted'}, !this.loaded ? 'Loading…' : this.all.length ? 'No series match.' : 'No series stored yet.'));
    replaceChildren(this.list, groups);
    this.unshownCount = matching.length - shown.length;
    this.renderNote();
  }

  renderNote() {
    const selected = `${this.selection.size} of ${this.all.length} selected`;
    this.note.textContent = this.unshownCount > 0 ? `${selected}; ${this.unshownCount} more match: narrow the filter.` : selected;
  }
}

function load() {
  try {
    const value = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '[]');
    return Array.isArray(value) ? value.filter((v) => typeof v === 'string') : [];
  } catch {
    return [];
  }
}
