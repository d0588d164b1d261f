// The selected object: its parameters with values (writable ones as labelled edit controls, read-only
// ones as text), each with its details (type, access, description, notification, last change), the
// server's validation error beside the field (role=alert, aria-describedby), and add/delete of instances.
// Nothing is written before Save (or Enter): a select changed by a stray arrow key only marks the field
// unsaved. Writes that can cut management access (ParamView.confirm) ask first.
import { address, ADDRESS_TYPES, api, breakable, el, idFor, setAddress } from './api.js';

const NOTIFICATION = ['Off', 'Passive', 'Active'];

export class Detail {
  constructor(root, tree) {
    this.root = root;
    this.tree = tree;
    this.path = null;
    this.fields = new Map(); // param path -> { input | span, def }
  }

  async open(path) {
    this.path = path;
    let view;
    try {
      view = await api.object(path);
    } catch (e) {
      this.root.replaceChildren(el('p', { class: 'error', role: 'alert', text: e.message }));
      return;
    }
    if (this.path !== path) return;
    this.render(view);
  }

  render(view) {
    this.fields.clear();
    const head = el('div', { class: 'detail-head' }, el('h3', { class: 'path' }, breakable(view.path)));
    const status = el('p', { class: 'error', role: 'alert', id: 'detail-error' });
    if (view.kind === 'table' && view.writable) head.append(el('button', { type: 'button', text: 'Add instance', onclick: () => this.add(view.path, status) }));
    if (view.kind === 'instance' && view.writable) head.append(el('button', { type: 'button', class: 'danger', text: 'Delete instance', onclick: () => this.remove(view.path, status) }));
    const parts = [head, status];
    if (view.description) parts.push(el('p', { class: 'desc', text: view.description }));
    if (view.params.length) {
      const list = el('ul', { class: 'params', 'aria-label': `Parameters of ${view.path}` });
      for (const p of view.params) list.append(this.param(p));
      parts.push(list);
    }
    if (view.children.length) {
      const kids = el('ul', { class: 'children', 'aria-label': view.kind === 'table' ? 'Instances' : 'Sub-objects' });
      for (const c of view.children)
        kids.append(el('li', {}, el('button', { type: 'button', class: 'link', text: c.kind === 'instance' ? `${c.path}${c.alias ? ` (${c.alias})` : ''}` : c.path, onclick: () => this.tree.reveal(c.path) })));
      parts.push(el('h4', { text: view.kind === 'table' ? 'Instances' : 'Contains' }), kids);
    } else if (view.kind === 'table') parts.push(el('p', { text: 'No instances.' }));
    this.root.replaceChildren(...parts);
  }

  param(p) {
    const li = el('li', { class: 'param', id: idFor('p', p.path) });
    li.append(el('span', { class: 'pname' }, breakable(p.name)));
    if (p.writable) li.append(this.editor(p));
    else {
      if (ADDRESS_TYPES.has(p.dataType) && p.value) {
        const [box, span] = address(p.value, 'pvalue');
        this.fields.set(p.path, { span, def: p, address: true });
        li.append(box);
      } else {
        const span = el('span', { class: 'pvalue', text: p.value });
        this.fields.set(p.path, { span, def: p });
        li.append(span);
      }
    }
    li.append(this.details(p));
    return li;
  }

  editor(p) {
    const errId = idFor('err', p.path);
    let input;
    if (p.type === 'boolean' || p.enums) {
      const options = p.type === 'boolean' ? ['true', 'false'] : [...p.enums];
      if (!options.includes(p.value)) options.unshift(p.value);
      input = el('select', {}, ...options.map((o) => el('option', { value: o, text: o === '' ? '(empty)' : o })));
    } else {
      input = el('input', { type: p.secured ? 'password' : 'text', autocomplete: 'off', spellcheck: false });
      if (p.secured) input.placeholder = '(hidden)';
    }
    input.value = p.value;
    // The full path is the control's name (DESIGN.md "The web page").
    input.setAttribute('aria-label', p.path);
    input.setAttribute('aria-describedby', errId);
    input.dataset.saved = p.value;
    const error = el('p', { class: 'error', role: 'alert', id: errId });
    const save = el('button', { type: 'submit', text: 'Save', 'aria-label': `Save ${p.path}` });
    const form = el('form', { class: 'edit', novalidate: true }, input, save, error);
    const dirty = () => form.classList.toggle('dirty', input.value !== input.dataset.saved);
    input.addEventListener('input', dirty);
    input.addEventListener('change', dirty);
    // Enter saves a select too (a text field's Enter submits the form by itself).
    if (input.tagName === 'SELECT') input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); form.requestSubmit(); } });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (p.confirm?.includes(input.value) && input.value !== input.dataset.saved &&
          !window.confirm(`Set ${p.path} to ${input.value}? This can cut the gateway off from its management (ACS, controller, this page).`)) {
        input.value = input.dataset.saved;
        dirty();
        return;
      }
      save.disabled = true;
      try {
        await api.setValues({ [p.path]: input.value });
        error.textContent = '';
        input.removeAttribute('aria-invalid');
        input.dataset.saved = input.value;
        dirty();
        form.classList.add('saved');
        setTimeout(() => form.classList.remove('saved'), 1200);
      } catch (err) {
        const mine = err.details.find((d) => d.path === p.path);
        error.textContent = mine ? mine.message : err.message;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
      } finally {
        save.disabled = false;
      }
    });
    this.fields.set(p.path, { input, def: p });
    return form;
  }

  details(p) {
    const dl = el('dl', { class: 'meta' });
    const row = (k, v) => v !== undefined && v !== '' && dl.append(el('dt', { text: k }), el('dd', { text: v }));
    row('Type', `${p.list ? 'list of ' : ''}${p.dataType ?? p.type}${p.units ? ` (${p.units})` : ''}`);
    row('Access', p.access);
    if (p.enums) row('Values', p.enums.join(', '));
    if (p.ranges) row('Range', p.ranges.map((r) => `${r.min ?? ''}..${r.max ?? ''}`).join(', '));
    if (p.maxLength !== undefined) row('Max length', String(p.maxLength));
    row('Default', p.default);
    row('Last change', p.lastChange ? new Date(p.lastChange).toLocaleString() : 'never');
    const select = el('select', { 'aria-label': `Notification of ${p.path}` }, ...NOTIFICATION.map((n, i) => el('option', { value: String(i), text: n })));
    select.value = String(p.notification);
    const nerr = el('span', { class: 'error', role: 'alert' });
    // Like a value: written on Save (or Enter), never by changing the select alone.
    const form = el('form', { class: 'edit', novalidate: true }, select, el('button', { type: 'submit', text: 'Save', 'aria-label': `Save notification of ${p.path}` }), nerr);
    select.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); form.requestSubmit(); } });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await api.setNotification(p.path, Number(select.value));
        p.notification = Number(select.value);
        nerr.textContent = '';
      } catch (err) {
        nerr.textContent = err.message;
        select.value = String(p.notification);
      }
    });
    dl.append(el('dt', { text: 'Notification' }), el('dd', {}, form));
    row('Description', p.description);
    return el('details', {}, el('summary', { text: 'Details', 'aria-label': `Details of ${p.path}` }), dl);
  }

  async add(table, status) {
    try {
      const r = await api.addInstance(table);
      await this.tree.changed([r.path]);
      await this.tree.reveal(r.path);
    } catch (e) {
      status.textContent = e.message;
    }
  }

  async remove(path, status) {
    if (!window.confirm(`Delete ${path}?`)) return;
    try {
      await api.deleteInstance(path);
      const table = path.replace(/\d+\.$/, '');
      await this.tree.changed([path]);
      await this.tree.reveal(table);
    } catch (e) {
      status.textContent = e.message;
    }
  }

  /** A live change event: update shown values in place unless the person is editing that field. */
  changed(ev) {
    if (!this.path) return;
    const gone = ev.deleted.find((o) => this.path.startsWith(o));
    if (gone) return this.tree.reveal(gone.replace(/\d+\.$/, ''));
    if ([...ev.added, ...ev.deleted].some((o) => o.startsWith(this.path))) return this.open(this.path);
    for (const c of ev.changes) {
      const f = this.fields.get(c.path);
      if (!f) continue;
      if (f.span) f.address ? setAddress(f.span, c.value) : (f.span.textContent = c.value);
      else if (document.activeElement !== f.input && f.input.value === f.input.dataset.saved) {
        if (f.input.tagName === 'SELECT' && ![...f.input.options].some((o) => o.value === c.value)) f.input.append(el('option', { value: c.value, text: c.value }));
        f.input.value = c.value;
        f.input.dataset.saved = c.value;
      }
    }
  }
}
