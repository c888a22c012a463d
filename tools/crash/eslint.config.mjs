import base from '../../tools/config/eslint.base.mjs';

export default base;
