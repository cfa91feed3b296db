import type { Page } from 'playwright-core';

/**
 * An accessibility check of our own, run in the page: every form control has an accessible name (a
 * label, aria-label or aria-labelledby; a button its text), and every visible text meets WCAG AA
 * contrast against the background it is drawn on (4.5:1; 3:1 for large text).
 */
export interface AccessibilityFindings {
  readonly unlabelled: string[];
  readonly lowContrast: string[];
}

export async function checkAccessibility(page: Page): Promise<AccessibilityFindings> {
  return page.evaluate(() => {
    const describe = (element: Element) =>
      `${element.tagName.toLowerCase()}${element.id ? `#${element.id}` : ''}${element.className ? `.${String(element.className).replace(/ /g, '.')}` : ''}`;
    const unlabelled: string[] = [];
    for (const control of Array.from(
      document.querySelectorAll('input:not([type=hidden]), select, textarea, button, progress'),
    )) {
      const labels = (control as HTMLInputElement).labels;
      const named =
        (labels && labels.length > 0) ||
        control.getAttribute('aria-label') ||
        control.getAttribute('aria-labelledby') ||
        (control.tagName === 'BUTTON' && control.textContent?.trim());
      if (!named) unlabelled.push(describe(control));
    }

    const rgba = (value: string) => (value.match(/[\d.]+/g) ?? []).map(Number);
    const luminance = ([r = 0, g = 0, b = 0]: number[]) => {
      const channel = (c: number) => {
        const s = c / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    };
    const background = (element: Element | null): number[] => {
      for (let node = element; node; node = node.parentElement) {
        const colour = rgba(getComputedStyle(node).backgroundColor);
        if (colour.length >= 3 && (colour[3] ?? 1) > 0) return colour;
      }
      return [255, 255, 255];
    };
    const lowContrast: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let text = walker.nextNode(); text; text = walker.nextNode()) {
      const element = text.parentElement;
      if (!element || !text.textContent?.trim()) continue;
      const style = getComputedStyle(element);
      const box = element.getBoundingClientRect();
      if (style.visibility === 'hidden' || box.width <= 1 || box.height <= 1) continue;
      const fg = luminance(rgba(style.color));
      const bg = luminance(background(element));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      const large =
        parseFloat(style.fontSize) >= 24 ||
        (parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5))
        lowContrast.push(
          `${describe(element)} ${ratio.toFixed(2)}:1 "${text.textContent.trim().slice(0, 30)}"`,
        );
    }
    return { unlabelled, lowContrast };
  });
}

/** Presses Tab until `selector` has the focus, as a keyboard user would reach it; fails if it never does. */
export async function tabTo(page: Page, selector: string, maxPresses = 60): Promise<void> {
  for (let i = 0; i < maxPresses; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`${selector} never took the focus in ${maxPresses} presses of Tab`);
}

/** The focused element's outline: a visible focus indicator is a drawn outline of some width. */
export async function focusOutline(page: Page): Promise<string> {
  return page.evaluate(() => {
    const element = document.activeElement;
    if (!element) return 'none';
    const style = getComputedStyle(element);
    return `${style.outlineStyle} ${style.outlineWidth}`;
  });
}
