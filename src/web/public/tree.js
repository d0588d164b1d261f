// The data-model tree, loaded one level at a time, following the WAI-ARIA Authoring Practices tree
// pattern: role=tree/treeitem/group, aria-expanded on expandable items, one tab stop (roving tabindex),
// Up/Down move, Right expands or enters, Left collapses or goes to the parent, Home/End, Enter opens.
import { api, el, idFor } from './api.js';

export class Tree {
  constructor(root, onOpen) {
    this.root = root;
    this.onOpen = onOpen;
    this.items = new Map(); // path -> li
    root.addEventListener('keydown', (e) => this.key(e));
  }

  async load() {
    this.root.replaceChildren();
    this.items.clear();
    const item = this.item({ path: 'Device.', name: 'Device', kind: 'object', leaf: false }, 1);
    this.root.append(item);
    this.focus(item);
    await this.expand(item);
  }

  item(node, level) {
    // The twisty is decoration: aria-hidden keeps it out of the item's accessible name.
    const label = el('span', { class: `label ${node.kind}`, id: idFor('tl', node.path) }, el('span', { class: 'twisty', 'aria-hidden': 'true' }),
      node.kind === 'instance' ? `${node.name}${node.alias ? ` (${node.alias})` : ''}` : node.kind === 'table' ? `${node.name}.{i}` : node.name);
    const li = el('li', { role: 'treeitem', 'aria-level': level, 'aria-selected': 'false', 'aria-labelledby': label.id, tabindex: '-1' }, label);
    li.dataset.path = node.path;
    // Only items with something below carry aria-expanded (WAI-ARIA: end nodes have none).
    if (!node.leaf) li.setAttribute('aria-expanded', 'false');
    label.addEventListener('click', (e) => {
      e.stopPropagation();
      this.focus(li);
      this.open(li);
      this.toggle(li);
    });
    this.items.set(node.path, li);
    return li;
  }

  async expand(li) {
    if (li.getAttribute('aria-expanded') !== 'false') return;
    li.setAttribute('aria-expanded', 'true');
    await this.refresh(li);
  }

  collapse(li) {
    if (li.getAttribute('aria-expanded') !== 'true') return;
    li.setAttribute('aria-expanded', 'false');
    li.querySelector(':scope > ul')?.remove();
  }

  toggle(li) {
    return li.getAttribute('aria-expanded') === 'true' ? this.collapse(li) : this.expand(li);
  }

  /** Reloads the children of an expanded item (after instances were added or deleted). */
  async refresh(li) {
    const { children } = await api.tree(li.dataset.path);
    if (li.getAttribute('aria-expanded') !== 'true') return;
    const level = Number(li.getAttribute('aria-level')) + 1;
    const old = li.querySelector(':scope > ul');
    const expanded = old ? [...old.querySelectorAll(':scope > li[aria-expanded="true"]')].map((c) => c.dataset.path) : [];
    for (const p of [...this.items.keys()]) if (p !== li.dataset.path && p.startsWith(li.dataset.path)) this.items.delete(p);
    const group = el('ul', { role: 'group' });
    for (const c of children) group.append(this.item(c, level));
    old ? old.replaceWith(group) : li.append(group);
    if (!children.length) {
      // Nothing below: an empty table still shows it is expanded with no rows.
      group.append(el('li', { role: 'none', class: 'empty', text: '(empty)' }));
    }
    for (const p of expanded) if (this.items.has(p)) { this.items.get(p).setAttribute('aria-expanded', 'false'); await this.expand(this.items.get(p)); }
    if (!this.root.querySelector('[tabindex="0"]')) this.focus(li, false);
  }

  /** Refreshes the parent table of added or deleted instances, if it is shown. */
  async changed(objectPaths) {
    const tables = new Set(objectPaths.map((p) => p.replace(/\d+\.$/, '')));
    for (const t of tables) {
      const li = this.items.get(t);
      if (li && li.getAttribute('aria-expanded') === 'true') await this.refresh(li);
    }
  }

  /** Expands a path and its ancestors, then selects and opens it. */
  async reveal(path) {
    const parts = path.replace(/\.$/, '').split('.');
    let li = this.items.get('Device.');
    for (let i = 2; i <= parts.length && li; i++) {
      await this.expand(li);
      const p = `${parts.slice(0, i).join('.')}.`;
      li = this.items.get(p) ?? li;
      if (li.dataset.path !== p) break;
    }
    if (li) {
      await this.expand(li);
      this.focus(li);
      this.open(li);
    }
  }

  open(li) {
    for (const s of this.root.querySelectorAll('[aria-selected="true"]')) s.setAttribute('aria-selected', 'false');
    li.setAttribute('aria-selected', 'true');
    this.onOpen(li.dataset.path);
  }

  focus(li, move = true) {
    for (const t of this.root.querySelectorAll('[tabindex="0"]')) t.setAttribute('tabindex', '-1');
    li.setAttribute('tabindex', '0');
    if (move) li.focus();
  }

  visible() {
    return [...this.root.querySelectorAll('li[role="treeitem"]')].filter((li) => !li.closest('li[aria-expanded="false"] ul'));
  }

  key(e) {
    const li = e.target.closest('li[role="treeitem"]');
    if (!li) return;
    const list = this.visible();
    const i = list.indexOf(li);
    const go = (t) => t && this.focus(t);
    switch (e.key) {
      case 'ArrowDown': go(list[i + 1]); break;
      case 'ArrowUp': go(list[i - 1]); break;
      case 'Home': go(list[0]); break;
      case 'End': go(list[list.length - 1]); break;
      case 'ArrowRight':
        if (li.getAttribute('aria-expanded') === 'true') go(li.querySelector(':scope > ul > li[role="treeitem"]'));
        else this.expand(li);
        break;
      case 'ArrowLeft':
        if (li.getAttribute('aria-expanded') === 'true') this.collapse(li);
        else go(li.parentElement.closest('li[role="treeitem"]'));
        break;
      case 'Enter':
      case ' ':
        this.open(li);
        if (e.key === 'Enter') this.toggle(li);
        break;
      default: return;
    }
    e.preventDefault();
    e.stopPropagation();
  }
}
