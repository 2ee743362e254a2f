// Svelte 5 understands `<script lang="ts">` natively; nothing to configure yet.
export default {};
