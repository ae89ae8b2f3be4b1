<?php
/**
 * Removes everything Deskbell stored in WordPress: its settings and cached articles.
 *
 * @package Deskbell
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

delete_option( 'deskbell_settings' );

global $wpdb;
// Cached articles are transients named deskbell_*; with an object cache they simply expire.
$wpdb->query(
	$wpdb->prepare(
		"DELETE FROM {$wpdb->options} WHERE option_name LIKE %s OR option_name LIKE %s",
		$wpdb->esc_like( '_transient_deskbell_' ) . '%',
		$wpdb->esc_like( '_transient_timeout_deskbell_' ) . '%'
	)
);
