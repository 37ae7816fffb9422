import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterEach } from 'vitest';

afterEach(() => {
  cleanup();
  sessionStorage.clear();
});

// jsdom has no object URLs; the app only passes them to <img>/<a>, so a unique fake string suffices.
let objectUrls = 0;
URL.createObjectURL = () => `blob:fake/${++objectUrls}`;
URL.revokeObjectURL = () => {};
