<?php
// Dependencies of editor.js (written by hand: the block has no build step).
return array(
	'dependencies' => array( 'wp-blocks', 'wp-element', 'wp-block-editor', 'wp-components', 'wp-i18n', 'wp-server-side-render' ),
	'version'      => '0.1.0',
);
