<?php
/**
 * The deskbell/search block: the same server-side search as [deskbell_search], placed from
 * the block editor. Its editor script needs no build step.
 *
 * @package Deskbell
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Register the block from its block.json, rendered on the server.
 */
function deskbell_register_block() {
	register_block_type(
		DESKBELL_DIR . '/blocks/search',
		array( 'render_callback' => 'deskbell_render_search_block' )
	);
}
add_action( 'init', 'deskbell_register_block' );

/**
 * Render the block with the shortcode's code, so both behave the same.
 *
 * @param array<string, mixed> $attributes Block attributes.
 * @return string
 */
function deskbell_render_search_block( $attributes ) {
	$atts = array( 'limit' => (string) (int) ( $attributes['limit'] ?? 5 ) );
	if ( ! empty( $attributes['placeholder'] ) ) {
		$atts['placeholder'] = (string) $attributes['placeholder'];
	}
	return deskbell_search_shortcode( $atts );
}
